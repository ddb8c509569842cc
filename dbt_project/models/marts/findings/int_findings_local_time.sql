{{ config(materialized='ephemeral') }}
-- billing-rules sections 1 and 10: ambiguous_local_time (warning). A vendor export in
-- site-local time with a wall-clock time that occurs twice (the DST fall-back hour): the
-- connector took the earlier instant and flagged the record in `extra`
-- (`"ambiguous_local_time": true`, AMAG Symmetry transactions: connectors/amag/parser.py).
-- Evidence: the record. The flagged events come through a partial index of raw.device_events
-- (a view over every event would read them all), each in its latest version.
with

flagged as (

    select *
    from {{ ref('stg_inbox__device_events') }}
    where extra ->> 'ambiguous_local_time' = 'true'

),

events as (

    select flagged.*
    from flagged
    where not exists (
        select 1
        from {{ ref('stg_inbox__device_events') }} as later
        where
            later.source = flagged.source
            and later.device_event_id = flagged.device_event_id
            and (later.ingested_at, later.source_file, later.source_line, later.content_hash)
            > (flagged.ingested_at, flagged.source_file, flagged.source_line, flagged.content_hash)
    )

),

sites as (

    select * from {{ ref('stg_inbox__sites') }}

)

select
    'ambiguous_local_time' as type,
    sites.client_id,
    events.site_id,
    null::text as contract_id,
    (events.occurred_at at time zone coalesce(sites.timezone, events.extra ->> 'site_timezone', 'UTC'))::date
        as service_date,
    array[events.source_ref] as evidence,
    format(
        'Event %s (%s) at site-local time %s (%s) is ambiguous: that hour occurs twice at the DST fall-back; the earlier instant, %s UTC, was taken.',
        events.source_ref,
        events.event_type,
        coalesce(events.extra ->> 'local_time', '?'),
        coalesce(sites.timezone, events.extra ->> 'site_timezone', '?'),
        to_char(events.occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')
    ) as message

from events
left join sites on events.site_id = sites.site_id
