-- title: Müşteri yaşlandırma
-- source: demo
-- formats: xlsx csv html json
-- ttl: 600
-- csv: excel-tr
SELECT
    I."CardCode" AS "Müşteri kodu",
    P."CardName" AS "Müşteri adı",
    S."SlpName" AS "Satış temsilcisi",
    ROUND(SUM(CASE WHEN I."Gün" < 0 THEN I."Açık" ELSE 0 END), 2)
        AS "Vadesi gelmemiş",
    ROUND(SUM(CASE WHEN I."Gün" BETWEEN 0 AND 30 THEN I."Açık" ELSE 0 END),
        2) AS "0-30 gün",
    ROUND(SUM(CASE WHEN I."Gün" BETWEEN 31 AND 60 THEN I."Açık" ELSE 0 END),
        2) AS "31-60 gün",
    ROUND(SUM(CASE WHEN I."Gün" BETWEEN 61 AND 90 THEN I."Açık" ELSE 0 END),
        2) AS "61-90 gün",
    ROUND(SUM(CASE WHEN I."Gün" > 90 THEN I."Açık" ELSE 0 END), 2)
        AS "90+ gün",
    ROUND(SUM(I."Açık"), 2) AS "Toplam açık",
    COUNT(*) AS "Açık fatura",
    MAX(CASE WHEN I."Gün" > 0 THEN I."Gün" ELSE 0 END) AS "En uzun gecikme"
FROM (
    -- Open A/R invoices and how many days past due they are on the last
    -- day of the demo data.  On HANA, use DAYS_BETWEEN instead.
    SELECT "CardCode", "DocTotal" - "PaidToDate" AS "Açık",
        CAST(julianday('2026-12-03') - julianday("DocDueDate") AS INTEGER)
            AS "Gün"
    FROM OINV
    WHERE "CANCELED" = 'N' AND "DocStatus" = 'O'
        AND "DocDate" <= '2026-12-03'
) I
JOIN OCRD P ON P."CardCode" = I."CardCode"
LEFT JOIN OSLP S ON S."SlpCode" = P."SlpCode"
GROUP BY I."CardCode", P."CardName", S."SlpName"
ORDER BY 9 DESC, 1
