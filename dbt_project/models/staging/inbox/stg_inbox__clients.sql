-- One client per document in force, defaults from interfaces.md section 3 applied.
with

documents as (

    select * from {{ ref('stg_inbox__contract_documents') }}

),

renamed as (

    select
        ---- ids
        documents.client_id,
        documents.document_id,

        ---- attributes
        documents.document -> 'client' ->> 'name' as client_name,
        nullif(documents.document -> 'client' ->> 'email', '') as email,
        nullif(documents.document -> 'client' ->> 'phone', '') as phone,
        coalesce(documents.document -> 'client' ->> 'preferred_channel', 'email') as preferred_channel,
        coalesce((documents.document -> 'client' ->> 'autopay')::boolean, false) as autopay,
        nullif(documents.document -> 'client' ->> 'payment_method', '') as payment_method,
        coalesce(documents.document -> 'client' ->> 'grouping', 'consolidated') as grouping,
        coalesce(documents.document -> 'client' ->> 'currency', 'USD') as currency,

        ---- lineage
        documents.source || ':' || documents.client_id as source_ref,
        documents.source_file,
        documents.ingested_at

    from documents

)

select * from renamed
