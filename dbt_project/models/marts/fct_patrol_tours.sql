-- Incremental like fct_guard_shifts.
{{ config(
    materialized='incremental',
    unique_key='source_ref',
    incremental_strategy='append',
    pre_hook="{{ delete_changed('source_ref', ref('int_patrol_tour_versions')) }}",
    indexes=[
        {'columns': ['source_ref'], 'unique': True},
        {'columns': ['contract_id', 'service_date']},
        {'columns': ['client_id', 'service_date']},
        {'columns': ['updated_at']},
    ],
) }}
with

tours as (

    select *
    from {{ ref('int_tours_matched_to_contracts') }}
    {% if is_incremental() %}where {{ changed_in_build() }}{% endif %}

)

select
    tour_id,
    source,
    source_ref,
    site_id,
    client_id,
    contract_id,
    guard_id,
    started_at,
    completed_at,
    checkpoints_required,
    checkpoints_scanned,
    service_date,
    vendor_ref,
    updated_at

from tours
