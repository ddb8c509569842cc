-- Security events (evidence, not billed), one row per delivered version of (source,
-- record_id). Read through indexes on raw: per device and day (int_device_event_days) and the
-- few flagged as ambiguous local time (int_findings_local_time).
with

source as (

    select * from {{ source('inbox', 'device_events') }}

),

renamed as (

    select
        ---- ids
        record_id as device_event_id,
        source,
        source || ':' || record_id as source_ref,
        site_id,
        device_id,
        incident_ref,

        ---- attributes
        event_type,
        vendor_ref,
        extra,

        ---- timestamps (UTC instants)
        occurred_at,

        ---- lineage
        source_file,
        source_line,
        content_hash,
        ingested_at

    from source

)

select * from renamed
