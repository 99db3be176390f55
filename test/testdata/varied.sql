-- A database that exercises what pg_dump and pg_restore must carry.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA sales;
CREATE SCHEMA "Ünïcode Schema";
COMMENT ON SCHEMA sales IS 'orders and customers';

CREATE TYPE sales.status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE DOMAIN sales.positive_money AS numeric(12,2) CHECK (VALUE > 0);

CREATE TABLE sales.customers (
    id bigserial PRIMARY KEY,
    email citext UNIQUE NOT NULL,
    name text NOT NULL,
    tags text[] DEFAULT '{}',
    profile jsonb,
    avatar bytea,
    active_during tstzrange
);
COMMENT ON TABLE sales.customers IS 'people who buy';
COMMENT ON COLUMN sales.customers.email IS 'case-insensitive';

CREATE TABLE sales.orders (
    id bigint GENERATED ALWAYS AS IDENTITY,
    customer_id bigint NOT NULL REFERENCES sales.customers(id),
    status sales.status NOT NULL DEFAULT 'new',
    amount sales.positive_money NOT NULL,
    placed_at date NOT NULL,
    updated_at timestamptz,
    PRIMARY KEY (id, placed_at)
) PARTITION BY RANGE (placed_at);
CREATE TABLE sales.orders_2025 PARTITION OF sales.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE sales.orders_2026 PARTITION OF sales.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON sales.orders (customer_id);

CREATE TABLE "Ünïcode Schema"."Tàblé ""quoted"" name" (
    "Çolumn" int,
    "select" text,
    "MixedCase" numrange
);

CREATE SEQUENCE sales.invoice_numbers START 1000 INCREMENT 7;
SELECT setval('sales.invoice_numbers', 1042);

CREATE FUNCTION sales.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := '2026-11-21 06:00:00+00';
    RETURN NEW;
END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON sales.orders FOR EACH ROW EXECUTE FUNCTION sales.touch();

INSERT INTO sales.customers (email, name, tags, profile, avatar, active_during)
SELECT 'User' || g || '@Example.com', 'Ñame ' || g || ' 名前',
       ARRAY['tag' || g % 3, 'vip'],
       jsonb_build_object('n', g, 'nested', jsonb_build_object('ok', g % 2 = 0)),
       decode(md5(g::text), 'hex'),
       tstzrange('2026-01-01'::timestamptz + g * interval '1 day', NULL)
FROM generate_series(1, 500) g;

INSERT INTO sales.orders (customer_id, status, amount, placed_at)
SELECT (g % 500) + 1, (ARRAY['new','paid','shipped','cancelled']::sales.status[])[g % 4 + 1],
       (g % 1000) + 0.99, DATE '2025-06-01' + (g % 400)
FROM generate_series(1, 3000) g;
UPDATE sales.orders SET status = 'paid' WHERE id % 10 = 0;

INSERT INTO "Ünïcode Schema"."Tàblé ""quoted"" name"
VALUES (1, 'from', numrange(1, 10)), (2, 'where', NULL), (3, E'tab\there\nnewline', numrange(NULL, 5));

CREATE VIEW sales.paid_orders AS SELECT * FROM sales.orders WHERE status = 'paid';
CREATE MATERIALIZED VIEW sales.revenue_by_month AS
    SELECT date_trunc('month', placed_at) AS month, sum(amount) AS revenue FROM sales.orders GROUP BY 1;
COMMENT ON VIEW sales.paid_orders IS 'orders that brought money';

SELECT lo_from_bytea(424242, convert_to('a large object, stored apart', 'UTF8'));
COMMENT ON LARGE OBJECT 424242 IS 'kept for the round trip';

CREATE TABLE public.canary (secret text);
INSERT INTO public.canary VALUES ('PLAINTEXT-CANARY-7f3a9c');
