{{ config(meta={"dagster": {"ref": {"name": "fct_guard_shifts"}}}) }}
-- billing-rules section 2-3: a shift matched to a contract is priced by it - an hourly
-- rate for its service type (its site or any site) in force on its service date, hour
-- tiers (which price every guard minute), or, for a patrol shift, the contract's patrol
-- visit fee. Billing never guesses a rate. The shifts changed since the last build (all of
-- them in a full build).
select shifts.source_ref, shifts.contract_id

from {{ ref('fct_guard_shifts') }} as shifts
inner join {{ ref('stg_inbox__contracts') }} as contracts
    on contracts.contract_id = shifts.contract_id
where shifts.updated_at >= {{ build_since() }}
    and not exists (
        select 1
        from {{ ref('stg_inbox__contract_rates') }} as rates
        where rates.contract_id = shifts.contract_id
            and rates.service_type = shifts.service_type
            and (rates.site_id = shifts.site_id or rates.site_id is null)
            and (rates.effective_from is null or rates.effective_from <= shifts.service_date)
    )
    and not contracts.has_hour_tiers
    and not (shifts.service_type = 'patrol' and contracts.patrol_visit_fee is not null)
