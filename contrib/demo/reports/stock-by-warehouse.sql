-- title: Depo bazında stok durumu
-- source: demo
-- formats: xlsx csv html json
-- ttl: 300
SELECT
    W."WhsCode" AS "Depo kodu",
    D."WhsName" AS "Depo",
    W."ItemCode" AS "Ürün kodu",
    M."ItemName" AS "Ürün adı",
    G."ItmsGrpNam" AS "Ürün grubu",
    M."InvntryUom" AS "Birim",
    W."OnHand" AS "Eldeki",
    W."IsCommited" AS "Taahhüt edilen",
    W."OnOrder" AS "Sipariş edilen",
    ROUND(W."OnHand" - W."IsCommited" + W."OnOrder", 3) AS "Kullanılabilir",
    W."MinStock" AS "Asgari stok",
    W."AvgPrice" AS "Birim maliyet",
    ROUND(W."OnHand" * W."AvgPrice", 2) AS "Stok değeri",
    -- CAST makes the comparison numeric in every dialect.
    CASE
        WHEN CAST(W."OnHand" AS DECIMAL(19, 6)) = 0 THEN 'Stokta yok'
        WHEN W."OnHand" - W."IsCommited" + W."OnOrder"
            < CAST(W."MinStock" AS DECIMAL(19, 6)) THEN 'Asgari altında'
        ELSE 'Yeterli'
    END AS "Durum"
FROM OITW W
JOIN OWHS D ON D."WhsCode" = W."WhsCode"
JOIN OITM M ON M."ItemCode" = W."ItemCode"
JOIN OITB G ON G."ItmsGrpCod" = M."ItmsGrpCod"
WHERE CAST(W."OnHand" AS DECIMAL(19, 6)) <> 0
    OR CAST(W."MinStock" AS DECIMAL(19, 6)) > 0
ORDER BY 1, 3
