-- Incremental: the shifts recomputed in this build replace their rows (billing reads a
-- cycle's shifts by contract and service date, and what changed since an invoice by updated_at).
{{ config(
    materialized='incremental',
    unique_key='source_ref',
    incremental_strategy='append',
    pre_hook="{{ delete_changed('source_ref', ref('int_shift_versions')) }}",
    indexes=[
        {'columns': ['source_ref'], 'unique': True},
        {'columns': ['contract_id', 'service_date']},
        {'columns': ['client_id', 'service_date']},
        {'columns': ['service_date']},
        {'columns': ['updated_at']},
    ],
) }}
with

shifts as (

    select *
    from {{ ref('int_shifts_matched_to_contracts') }}
    {% if is_incremental() %}where {{ changed_in_build() }}{% endif %}

)

select
    shift_id,
    source,
    source_ref,
    guard_id,
    guard_name,
    site_id,
    client_id,
    contract_id,
    service_type,
    check_in_at,
    check_out_at,
    scheduled_start_at,
    scheduled_end_at,
    service_date,
    site_timezone,
    has_valid_interval,
    vendor_ref,
    updated_at

from shifts
