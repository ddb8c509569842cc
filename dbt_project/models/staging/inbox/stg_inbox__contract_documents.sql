-- The contract document in force per client: the newest accepted one.
with

source as (

    select * from {{ source('inbox', 'contract_documents') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by client_id
            order by ingested_at desc, document_id desc
        ) as recency_rank

    from source

),

renamed as (

    select
        ---- ids
        document_id,
        client_id,

        ---- document
        document,

        ---- lineage
        source,
        source_file,
        content_hash,
        ingested_at

    from ranked
    where recency_rank = 1

)

select * from renamed
