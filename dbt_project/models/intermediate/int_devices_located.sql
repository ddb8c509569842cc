-- Devices (selected version) at a declared site, with the site's owning client.
with

devices as (

    {{ selected_versions(ref('stg_inbox__devices')) }}

),

sites as (

    select * from {{ ref('stg_inbox__sites') }}

)

select
    devices.*,
    sites.client_id

from devices
inner join sites on sites.site_id = devices.site_id
