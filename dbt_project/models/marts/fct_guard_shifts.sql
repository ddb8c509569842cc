with

shifts as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}

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
    vendor_ref

from shifts
