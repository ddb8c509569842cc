{#- billing-rules section 3: truncate to the whole minute, then round to the nearest
    multiple of `increment` minutes counted from the site-local hour, a tie rounding up
    (07:07 -> 07:00, 07:08 -> 07:15 with 15). The shift is applied to the instant, so a
    DST change cannot move the result by an hour; the local hour only matters for zones
    with a non-whole-hour offset. -#}
{% macro round_to_increment(ts, timezone, increment) -%}
    (
        date_trunc('minute', {{ ts }})
        + (
            floor(
                (extract(minute from ({{ ts }} at time zone {{ timezone }})) + {{ increment }} / 2.0)
                / {{ increment }}
            ) * {{ increment }}
            - extract(minute from ({{ ts }} at time zone {{ timezone }}))
        ) * interval '1 minute'
    )
{%- endmacro %}
