-- The contracts with an overtime policy (billing-rules section 4), with what
-- overtime_without_incident recomputes overtime from.
{{ config(materialized='ephemeral') }}
select
    contract_id,
    client_id,
    timezone as contract_timezone,
    coalesce(terms -> 'overtime' ->> 'policy', 'none') as policy,
    coalesce((terms -> 'overtime' ->> 'daily_hours')::numeric, 8) * 60 as daily_minutes,
    coalesce((terms -> 'overtime' ->> 'weekly_hours')::numeric, 40) * 60 as weekly_minutes,
    case lower(coalesce(terms -> 'overtime' ->> 'workweek_start', 'monday'))
        when 'monday' then 1 when 'tuesday' then 2 when 'wednesday' then 3 when 'thursday' then 4
        when 'friday' then 5 when 'saturday' then 6 when 'sunday' then 7 else 1
    end as workweek_isodow

from {{ ref('stg_inbox__contracts') }}
where coalesce(terms -> 'overtime' ->> 'policy', 'none') <> 'none'
