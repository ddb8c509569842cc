{#- A finding's stable id: md5 of its type and its evidence (sorted source refs), so the
    same problem found again on the next run keeps its id and its review.
    Python equivalent: hashlib.md5(f"{type}:{','.join(evidence)}".encode()).hexdigest() -#}
{% macro finding_id(type_expr, evidence_expr) -%}
    md5({{ type_expr }} || ':' || array_to_string({{ evidence_expr }}, ','))
{%- endmacro %}
