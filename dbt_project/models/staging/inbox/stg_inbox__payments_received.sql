-- Payments received outside the provider, one row per delivered version of a payment_id.
with

source as (

    select * from {{ source('inbox', 'payments_received') }}

),

renamed as (

    select
        ---- ids
        record_id as payment_id,
        source,
        source || ':' || record_id as source_ref,
        client_id,
        invoice_number,

        ---- money
        amount,
        currency,
        method,
        reference,

        ---- dates
        received_on,

        ---- lineage and versions
        source_file,
        source_line,
        content_hash,
        ingested_at,
        {{ record_version_columns() }}

    from source

)

select * from renamed
