-- Devices (selected version, cross-feed copies dropped) at a declared site, with the site's owning client.
with

devices as (

    select * from {{ ref('int_devices_deduplicated') }}

),

sites as (

    select * from {{ ref('stg_inbox__sites') }}

)

select
    devices.*,
    sites.client_id

from devices
inner join sites on devices.site_id = sites.site_id
