-- title: Ürün ve aya göre satışlar
-- source: demo
-- formats: xlsx csv html json
-- ttl: 3600
SELECT
    X."Ay" AS "Ay",
    X."ItemCode" AS "Ürün kodu",
    M."ItemName" AS "Ürün adı",
    G."ItmsGrpNam" AS "Ürün grubu",
    ROUND(SUM(X."Miktar"), 3) AS "Miktar",
    M."InvntryUom" AS "Birim",
    ROUND(SUM(X."Tutar"), 2) AS "Net satış",
    ROUND(SUM(X."İade"), 2) AS "İadeler"
FROM (
    -- Invoices minus credit memos.  Cancelled documents and the memos
    -- that cancel them (CANCELED Y and C) are left out on both sides.
    -- On HANA the month is TO_VARCHAR(H."DocDate", 'YYYY-MM').
    SELECT strftime('%Y-%m', H."DocDate") AS "Ay", L."ItemCode",
        L."Quantity" AS "Miktar", L."LineTotal" AS "Tutar", 0 AS "İade"
    FROM OINV H
    JOIN INV1 L ON L."DocEntry" = H."DocEntry"
    WHERE H."CANCELED" = 'N' AND H."DocDate" <= '2026-12-03'
    UNION ALL
    SELECT strftime('%Y-%m', H."DocDate"), L."ItemCode",
        -L."Quantity", -L."LineTotal", L."LineTotal"
    FROM ORIN H
    JOIN RIN1 L ON L."DocEntry" = H."DocEntry"
    WHERE H."CANCELED" = 'N' AND H."DocDate" <= '2026-12-03'
) X
JOIN OITM M ON M."ItemCode" = X."ItemCode"
JOIN OITB G ON G."ItmsGrpCod" = M."ItmsGrpCod"
GROUP BY X."Ay", X."ItemCode", M."ItemName", G."ItmsGrpNam", M."InvntryUom"
ORDER BY 1, 2
