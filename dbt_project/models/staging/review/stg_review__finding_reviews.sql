with

source as (

    select * from {{ source('review', 'finding_reviews') }}

),

renamed as (

    select
        finding_id,
        status,
        note as review_note,
        reviewed_by,
        reviewed_at

    from source

)

select * from renamed
