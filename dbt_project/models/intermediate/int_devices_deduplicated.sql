-- Devices (selected version), without the generic copies of vendor inventory rows
-- (int_cross_feed_duplicates): a device is counted, and its monitoring fee billed, once.
with

devices as (

    {{ selected_versions(ref('stg_inbox__devices')) }}

),

dropped as (

    select dropped_source_ref
    from {{ ref('int_cross_feed_duplicates') }}
    where record_type = 'device'

)

select devices.*
from devices
where not exists (
    select 1 from dropped
    where dropped.dropped_source_ref = devices.source_ref
)
