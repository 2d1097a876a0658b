-- Runs once, as the superuser, when the postgres container starts on an empty
-- volume (docker-entrypoint-initdb.d), connected to the database `dpsql`.
--
-- 1. the demo tables (employees, visits, departments), shaped like
--    `dpsql demo`'s data (same departments, cities and bounds; generated here
--    in SQL, so the numbers differ from the DuckDB demo);
-- 2. `dpsql_reader`: the read-only role the proxy queries with; the proxy
--    refuses to start with any role that could write (proxy/engines/postgres.py);
-- 3. `dpsql_ledger`: a separate role owning the database `dpsql_ledger`, where
--    the proxies share the privacy-budget ledger.
--
-- The passwords below are demo values: replace them here AND in
-- docker/dpsql.compose.yaml before exposing anything.

\set ON_ERROR_STOP on

-- 1. demo data ----------------------------------------------------------------

CREATE TABLE departments (
    dept        text PRIMARY KEY,
    floor       integer NOT NULL,
    budget_code text NOT NULL
);
INSERT INTO departments (dept, floor, budget_code) VALUES
    ('Engineering', 3, 'ENG-100'),
    ('Sales',       1, 'SAL-200'),
    ('Marketing',   2, 'MKT-300'),
    ('Finance',     4, 'FIN-400'),
    ('HR',          4, 'HR-500'),
    ('Legal',       5, 'LEG-600');

CREATE TABLE employees (
    id     integer PRIMARY KEY,
    name   text NOT NULL,
    dept   text NOT NULL,
    salary double precision NOT NULL,
    age    integer NOT NULL,
    hired  date NOT NULL
);

CREATE TABLE visits (
    person_id  integer NOT NULL,
    visit_date date NOT NULL,
    city       text NOT NULL,
    amount     double precision NOT NULL
);

DO $$ BEGIN PERFORM setseed(0.7); END $$;  -- the same demo data on every fresh volume

-- department shares 34/24/13/11/8/10 %, lognormal salaries around each
-- department's median (a tail above the 250 000 bound), ages ~ N(41, 11)
INSERT INTO employees (id, name, dept, salary, age, hired)
WITH draws AS MATERIALIZED (
    SELECT i, random() AS u_dept, random() AS u1, random() AS u2, random() AS u3,
           random() AS u4, random() AS u_first, random() AS u_last, random() AS u_hired
    FROM generate_series(1, 100000) AS g(i)
), depts AS (
    SELECT *, CASE
        WHEN u_dept < 0.34 THEN 'Engineering'
        WHEN u_dept < 0.58 THEN 'Sales'
        WHEN u_dept < 0.71 THEN 'Marketing'
        WHEN u_dept < 0.82 THEN 'Finance'
        WHEN u_dept < 0.90 THEN 'HR'
        ELSE 'Legal' END AS dept
    FROM draws
)
SELECT
    i,
    (ARRAY['Anna', 'Ben', 'Chloé', 'David', 'Elif', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jonas',
           'Kira', 'Luca', 'Maria', 'Noah', 'Olga', 'Pablo', 'Qiu', 'Rosa', 'Sven', 'Tara'])
        [1 + floor(u_first * 20)::integer]
    || ' ' ||
    (ARRAY['Müller', 'Schmidt', 'Dubois', 'Martin', 'García', 'Rossi', 'Jansen', 'Novak',
           'Silva', 'Kowalski', 'Nielsen', 'Yilmaz', 'Horvat', 'Costa', 'Bauer', 'Larsen'])
        [1 + floor(u_last * 16)::integer],
    dept,
    round(least(greatest(
        (CASE dept WHEN 'Engineering' THEN 118000 WHEN 'Sales' THEN 78000
                   WHEN 'Marketing' THEN 74000 WHEN 'Finance' THEN 92000
                   WHEN 'HR' THEN 66000 ELSE 135000 END)
        * exp(0.38 * sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2)),
        20000), 400000) / 100) * 100,
    least(greatest(round(41 + 11 * sqrt(-2 * ln(1 - u3)) * cos(2 * pi() * u4)), 18), 70),
    DATE '2000-01-01' + floor(u_hired * 9862)::integer
FROM depts;

-- 1 to 30 visits per person (geometric, mean 5), city shares as in the demo
INSERT INTO visits (person_id, visit_date, city, amount)
WITH people AS MATERIALIZED (
    SELECT id, least(30, 1 + floor(ln(1 - random()) / ln(0.8))::integer) AS n FROM employees
), draws AS MATERIALIZED (
    SELECT id, random() AS u_city, random() AS u_day, random() AS u1, random() AS u2
    FROM people, generate_series(1, n)
)
SELECT
    id,
    DATE '2023-01-01' + floor(u_day * 1095)::integer,
    CASE
        WHEN u_city < 0.24 THEN 'Berlin'
        WHEN u_city < 0.44 THEN 'Paris'
        WHEN u_city < 0.58 THEN 'Madrid'
        WHEN u_city < 0.70 THEN 'Rome'
        WHEN u_city < 0.80 THEN 'Amsterdam'
        WHEN u_city < 0.89 THEN 'Vienna'
        WHEN u_city < 0.95 THEN 'Lisbon'
        ELSE 'Prague' END,
    -- gamma(2, 35): the sum of two exponentials with mean 35
    round(least(-35 * (ln(1 - u1) + ln(1 - u2)), 500)::numeric, 2)::double precision
FROM draws;

ANALYZE departments;
ANALYZE employees;
ANALYZE visits;

-- 2. the read-only role the proxy connects as ------------------------------------

CREATE ROLE dpsql_reader LOGIN PASSWORD 'demo-reader-change-me';
GRANT CONNECT ON DATABASE dpsql TO dpsql_reader;
GRANT USAGE ON SCHEMA public TO dpsql_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO dpsql_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO dpsql_reader;

-- 3. the ledger: its own role and database ----------------------------------------

CREATE ROLE dpsql_ledger LOGIN PASSWORD 'demo-ledger-change-me';
CREATE DATABASE dpsql_ledger OWNER dpsql_ledger;
-- neither role reaches the other's database
REVOKE CONNECT ON DATABASE dpsql_ledger FROM PUBLIC;
REVOKE CONNECT ON DATABASE dpsql FROM PUBLIC;
GRANT CONNECT ON DATABASE dpsql TO dpsql_reader;
