-- One client per client id, defaults from interfaces.md section 3 applied. The client
-- block comes from the authoritative document (the contract YAML) when the client has
-- one, else from the CRM's.
-- A table, not a view: it reads another staging model (views never stack).
{{ config(materialized='table', indexes=[{'columns': ['client_id'], 'unique': True}]) }}
with

documents as (

    select * from {{ ref('stg_inbox__contract_documents') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by client_id
            order by source_precedence asc, ingested_at desc, document_id desc
        ) as precedence_rank

    from documents

),

renamed as (

    select
        ---- ids
        client_id,
        document_id,

        ---- attributes
        document -> 'client' ->> 'name' as client_name,
        nullif(document -> 'client' ->> 'email', '') as email,
        nullif(document -> 'client' ->> 'phone', '') as phone,
        coalesce(document -> 'client' ->> 'preferred_channel', 'email') as preferred_channel,
        coalesce((document -> 'client' ->> 'autopay')::boolean, false) as autopay,
        nullif(document -> 'client' ->> 'payment_method', '') as payment_method,
        coalesce(document -> 'client' ->> 'grouping', 'consolidated') as grouping,
        coalesce(document -> 'client' ->> 'currency', 'USD') as currency,

        ---- lineage
        source_ref,
        source_file,
        ingested_at

    from ranked
    where precedence_rank = 1

)

select * from renamed
