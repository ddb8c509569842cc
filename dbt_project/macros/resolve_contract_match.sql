{#- billing-rules section 2. `candidates` has one row per (source_ref, contract_id) for
    the owning client's contracts active on the record's service date, with `price_rank`:
    1 = prices it for its site, 2 = for any site, 3 = a fallback (patrol visit fee for a
    patrol shift), null = does not price it. The best rank wins; one winner is the
    record's contract, several are ambiguous. -#}
{% macro resolve_contract_match(candidates) -%}
    select
        source_ref,
        count(*) as active_contract_count,
        count(*) filter (where price_rank = best_rank) as matching_contract_count,
        array_agg(contract_id order by contract_id)
            filter (where price_rank = best_rank) as matching_contract_ids
    from (
        select
            *,
            min(price_rank) over (partition by source_ref) as best_rank
        from {{ candidates }}
    ) as ranked
    group by source_ref
{%- endmacro %}


{#- Columns from a resolve_contract_match() relation aliased `match`. -#}
{% macro contract_match_columns(match) -%}
        case
            when {{ match }}.matching_contract_count = 1 then {{ match }}.matching_contract_ids[1]
        end as contract_id,
        case
            when coalesce({{ match }}.active_contract_count, 0) = 0 then 'outside_contract'
            when {{ match }}.matching_contract_count = 0 then 'unpriced'
            when {{ match }}.matching_contract_count = 1 then 'matched'
            else 'ambiguous'
        end as match_status,
        coalesce({{ match }}.matching_contract_ids, array[]::text[]) as candidate_contract_ids
{%- endmacro %}
