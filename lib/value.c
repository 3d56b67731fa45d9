/* value: see value.h. */
#include "value.h"

const char *col_type_name(enum col_type t)
{
	switch (t) {
	case COL_TEXT:
		return "text";
	case COL_INT:
		return "integer";
	case COL_DECIMAL:
		return "decimal";
	case COL_FLOAT:
		return "float";
	case COL_BOOL:
		return "boolean";
	case COL_DATE:
		return "date";
	case COL_TIME:
		return "time";
	case COL_TIMESTAMP:
		return "timestamp";
	case COL_BINARY:
		return "binary";
	}
	return "unknown";
}
