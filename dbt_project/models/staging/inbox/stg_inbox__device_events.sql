-- Security events (evidence, not billed), one row per delivered version of (source, record_id).
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

        ---- lineage and versions
        source_file,
        source_line,
        content_hash,
        ingested_at,
        {{ record_version_columns() }}

    from source

)

select * from renamed
