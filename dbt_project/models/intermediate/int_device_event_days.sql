-- The days a device reported events: one row per event source, case-folded device id and
-- date (in the timezone of the event's site, UTC when the site is unknown), what
-- device_fee_without_events asks without reading every event again. Incremental: the events
-- ingested since the last build add their days; a day never loses its events (any delivered
-- version of an event counts).
{{ config(
    materialized='incremental',
    unique_key=['source', 'device_key', 'event_date'],
    incremental_strategy='delete+insert',
    indexes=[{'columns': ['source', 'device_key', 'event_date'], 'unique': True}],
) }}
select distinct
    events.source,
    lower(events.device_id) as device_key,
    (events.occurred_at at time zone coalesce(sites.timezone, 'UTC'))::date as event_date

from {{ ref('stg_inbox__device_events') }} as events
left join {{ ref('stg_inbox__sites') }} as sites on events.site_id = sites.site_id
where
    events.device_id is not null
    {% if is_incremental() %}and events.ingested_at >= {{ build_since() }}{% endif %}
