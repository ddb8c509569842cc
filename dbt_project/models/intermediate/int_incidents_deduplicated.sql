-- Incident responses (selected version), without the generic copies of vendor alarms
-- (int_cross_feed_duplicates).
with

incidents as (

    {{ selected_versions(ref('stg_inbox__incidents')) }}

),

dropped as (

    select dropped_source_ref
    from {{ ref('int_cross_feed_duplicates') }}
    where record_type = 'incident'

)

select incidents.*
from incidents
where not exists (
    select 1 from dropped
    where dropped.dropped_source_ref = incidents.source_ref
)
