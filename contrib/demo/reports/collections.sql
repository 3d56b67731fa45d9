-- title: Tahsilatlar (aylık, müşteri bazında)
-- source: demo
-- formats: xlsx csv html json
-- ttl: 600
SELECT
    strftime('%Y-%m', R."DocDate") AS "Ay",
    R."CardCode" AS "Müşteri kodu",
    P."CardName" AS "Müşteri adı",
    COUNT(*) AS "Tahsilat adedi",
    ROUND(SUM(R."CashSum"), 2) AS "Nakit",
    ROUND(SUM(R."TrsfrSum"), 2) AS "Havale/EFT",
    ROUND(SUM(R."CheckSum"), 2) AS "Çek",
    ROUND(SUM(R."DocTotal"), 2) AS "Toplam"
FROM ORCT R
JOIN OCRD P ON P."CardCode" = R."CardCode"
-- On HANA the month is TO_VARCHAR(R."DocDate", 'YYYY-MM').
WHERE R."Canceled" = 'N' AND R."DocDate" <= '2026-12-03'
GROUP BY strftime('%Y-%m', R."DocDate"), R."CardCode", P."CardName"
ORDER BY 1 DESC, 8 DESC, 2
