-- The rows of the most recently ingested tax file (the file replaces the table whole).
with

source as (

    select * from {{ source('inbox', 'tax_rates') }}

),

latest_file as (

    select file_sha256
    from source
    order by ingested_at desc, file_sha256 desc
    limit 1

),

renamed as (

    select
        ---- ids
        source.jurisdiction_code,

        ---- attributes
        source.rate,
        source.taxable_categories,
        source.name,

        ---- lineage
        source.source_file,
        source.source_line,
        source.file_sha256,
        source.content_hash,
        source.ingested_at

    from source
    inner join latest_file on source.file_sha256 = latest_file.file_sha256

)

select * from renamed
