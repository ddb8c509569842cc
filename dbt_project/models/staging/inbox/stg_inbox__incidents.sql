-- Incident responses, one row per delivered version of (source, record_id).
with

source as (

    select * from {{ source('inbox', 'incidents') }}

),

renamed as (

    select
        ---- ids
        record_id as incident_id,
        source,
        source || ':' || record_id as source_ref,
        site_id,
        responder_guard_id,

        ---- attributes
        classification,
        description,
        source_ref as upstream_ref,
        vendor_ref,

        ---- timestamps (UTC instants)
        opened_at,
        response_started_at,
        response_ended_at,

        ---- lineage and versions
        source_file,
        source_line,
        content_hash,
        ingested_at,
        {{ record_version_columns() }}

    from source

)

select * from renamed
