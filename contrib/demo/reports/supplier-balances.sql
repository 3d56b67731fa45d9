-- title: Tedarikçi bakiyeleri
-- source: demo
-- formats: xlsx csv html json
-- ttl: 600
SELECT
    P."CardCode" AS "Tedarikçi kodu",
    P."CardName" AS "Tedarikçi adı",
    P."City" AS "Şehir",
    P."Phone1" AS "Telefon",
    ROUND(COALESCE(J."Alacak", 0), 2) AS "Faturalar",
    ROUND(COALESCE(J."Borç", 0), 2) AS "Ödemeler",
    ROUND(COALESCE(J."Alacak", 0) - COALESCE(J."Borç", 0), 2) AS "Bakiye",
    COALESCE(O."Adet", 0) AS "Açık fatura",
    ROUND(COALESCE(O."Vadesi geçen", 0), 2) AS "Vadesi geçen",
    O."En eski vade" AS "En eski vade"
FROM OCRD P
-- The balance on the last day of the demo data, from the journal lines
-- (auditable, and right for any date), not from OCRD."Balance".
LEFT JOIN (
    SELECT "ShortName", SUM("Debit") AS "Borç", SUM("Credit") AS "Alacak"
    FROM JDT1
    WHERE "RefDate" <= '2026-12-03'
    GROUP BY "ShortName"
) J ON J."ShortName" = P."CardCode"
LEFT JOIN (
    SELECT "CardCode", COUNT(*) AS "Adet",
        SUM(CASE WHEN "DocDueDate" < '2026-12-03'
            THEN "DocTotal" - "PaidToDate" ELSE 0 END) AS "Vadesi geçen",
        MIN("DocDueDate") AS "En eski vade"
    FROM OPCH
    WHERE "CANCELED" = 'N' AND "DocStatus" = 'O'
    GROUP BY "CardCode"
) O ON O."CardCode" = P."CardCode"
WHERE P."CardType" = 'S'
ORDER BY 7 DESC, 1
