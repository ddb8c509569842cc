-- Adjustments and credit notes (billing-rules section 8 [ext]): issued invoices never change;
-- the difference a re-rated cycle makes is billed later, and every billed difference is
-- recorded here so that re-running bills it once.

-- A credit note is a billing.invoices row numbered CN-YYYY-NNNNNN (own sequence, prefix CN);
-- credit_for names the invoice it credits.
alter table billing.invoices add column credit_for text;

create table billing.adjustments (
    adjustment_id       bigserial   primary key,
    original_invoice_id bigint      not null references billing.invoices,
    -- 1 for the first difference billed against the original, 2 for the next, ...
    version             integer     not null,
    -- the line identity on the original invoice
    site_id             text,
    category            text        not null,
    description         text        not null,
    unit_price          numeric(14, 6) not null,
    unit                text        not null,
    -- the category the tax table is asked about (a discount's: the line it discounts)
    tax_category        text        not null,
    tax_jurisdiction    text,
    quantity            numeric(14, 4) not null,
    amount              numeric(14, 2) not null,
    source_refs         text[]      not null,
    -- where the difference was billed: the next invoice or a credit note, and its line
    billed_invoice_id   bigint      not null references billing.invoices,
    billed_line_no      integer     not null,
    created_at          timestamptz not null default now()
);
create unique index adjustments_identity_version on billing.adjustments
    (original_invoice_id, coalesce(site_id, ''), category, description, unit_price, version);
create index on billing.adjustments (billed_invoice_id);
