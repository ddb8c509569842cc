-- Mobile-patrol tours, one row per delivered version of (source, record_id); the version
-- in use of each record is int_patrol_tour_versions'.
with

source as (

    select * from {{ source('inbox', 'patrols') }}

),

renamed as (

    select
        ---- ids
        record_id as tour_id,
        source,
        source || ':' || record_id as source_ref,
        site_id,
        guard_id,

        ---- numerics
        checkpoints_required,
        checkpoints_scanned,

        ---- timestamps (UTC instants)
        started_at,
        completed_at,

        ---- attributes
        vendor_ref,

        ---- lineage
        source_file,
        source_line,
        content_hash,
        ingested_at

    from source

)

select * from renamed
