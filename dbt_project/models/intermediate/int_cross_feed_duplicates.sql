-- One record reported by two feeds (docs/validation.md, "Records reported by two feeds"):
-- the generic feed's copy is dropped, the vendor connector's row is kept.
--   incidents: a generic incident (source `incidents`) whose optional `source_ref` column
--     equals the `source_ref` a vendor connector wrote for its alarm (`<vendor>:alarm/<id>`);
--   devices: a generic device (source `devices`) whose `vendor_ref` is
--     `<vendor source>:<vendor device id>` and a device row of that source has that id as
--     its record_id or vendor_ref (compared case-insensitively: vendor ids are GUIDs or numbers).
-- Shifts reported by both `timesheets` and a guard-management system cannot be matched
-- reliably and are not de-duplicated.
with

incidents as (

    {{ selected_versions(ref('stg_inbox__incidents')) }}

),

devices as (

    {{ selected_versions(ref('stg_inbox__devices')) }}

),

incident_pairs as (

    select distinct on (generic.source_ref)
        'incident' as record_type,
        generic.source_ref as dropped_source_ref,
        vendor.source_ref as kept_source_ref

    from incidents as generic
    inner join incidents as vendor
        on
            generic.upstream_ref = vendor.upstream_ref
            and vendor.source <> 'incidents'
    where
        generic.source = 'incidents'
        and generic.upstream_ref is not null
    order by generic.source_ref, vendor.source_ref

),

device_pairs as (

    select distinct on (generic.source_ref)
        'device' as record_type,
        generic.source_ref as dropped_source_ref,
        vendor.source_ref as kept_source_ref

    from devices as generic
    inner join devices as vendor
        on
            generic.upstream_source = vendor.source
            and vendor.source <> 'devices'
            and (
                lower(vendor.device_id) = lower(generic.upstream_id)
                or lower(vendor.vendor_ref) = lower(generic.upstream_id)
            )
    where
        generic.source = 'devices'
        and generic.upstream_id is not null
    order by generic.source_ref, vendor.source_ref

)

select * from incident_pairs
union all
select * from device_pairs
