with

devices as (

    select * from {{ ref('int_devices_located') }}

)

select
    device_id,
    source,
    source_ref,
    site_id,
    client_id,
    device_type,
    active_from,
    active_to,
    vendor_ref,
    updated_at

from devices
