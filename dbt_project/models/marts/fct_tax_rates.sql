with

tax_rates as (

    select * from {{ ref('stg_inbox__tax_rates') }}

)

select
    jurisdiction_code,
    rate,
    taxable_categories,
    name

from tax_rates
order by jurisdiction_code, source_line
