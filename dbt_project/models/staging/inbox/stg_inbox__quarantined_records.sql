-- Records the connectors refused (schema, parse or mapping errors), as quarantined.
with

source as (

    select * from {{ source('inbox', 'quarantine') }}

),

renamed as (

    select
        ---- ids
        quarantine_id,
        source,
        record_id,

        ---- where it came from
        file_path as source_file,
        line as source_line,

        ---- why
        field,
        reason,
        content,

        ---- lineage
        content_hash,
        quarantined_at

    from source

)

select * from renamed
