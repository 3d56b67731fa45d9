-- title: Cari hesap ekstresi
-- source: demo
-- formats: xlsx csv html json
-- ttl: 600
-- param: customer = SELECT "CardCode" FROM OCRD WHERE "CardType"='C' ORDER BY 1
SELECT
    J."RefDate" AS "Tarih",
    CASE J."TransType"
        WHEN 13 THEN 'Satış faturası'
        WHEN 14 THEN 'İade / iptal faturası'
        WHEN 24 THEN 'Gelen ödeme'
        ELSE 'Yevmiye kaydı'
    END AS "İşlem",
    J."BaseRef" AS "Belge no",
    J."DueDate" AS "Vade",
    J."LineMemo" AS "Açıklama",
    J."Debit" AS "Borç",
    J."Credit" AS "Alacak",
    ROUND(SUM(J."Debit" - J."Credit") OVER (
        ORDER BY J."RefDate", J."TransId", J."Line_ID"
        ROWS UNBOUNDED PRECEDING), 2) AS "Bakiye"
FROM JDT1 J
WHERE J."ShortName" = :customer AND J."RefDate" <= '2026-12-03'
ORDER BY J."RefDate", J."TransId", J."Line_ID"
