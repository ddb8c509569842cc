with

tours as (

    select * from {{ ref('int_tours_matched_to_contracts') }}

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
    vendor_ref

from tours
