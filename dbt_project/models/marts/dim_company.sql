-- Exactly one row: the billing company from its company.yaml in force, or without one the
-- defaults of interfaces.md section 2a ("Vigil demo company", timezone UTC), so readers
-- never have to handle a missing company.
with

company as (

    select * from {{ ref('stg_inbox__company') }}

),

defaults as (

    select
        'Vigil demo company'::text as company_name,
        '{}'::text[] as address_lines,
        'UTC'::text as timezone

)

select
    coalesce(company.company_name, defaults.company_name) as company_name,
    coalesce(company.address_lines, defaults.address_lines) as address_lines,
    company.email,
    company.phone,
    company.tax_id,
    coalesce(company.remit_to_lines, defaults.address_lines) as remit_to_lines,
    coalesce(company.timezone, defaults.timezone) as timezone,
    company.logo_path,
    company.logo,
    company.logo_media_type,
    company.sales_email,
    company.source_file,
    company.ingested_at,
    company.document_id is null as is_default

from defaults
left join company on true
