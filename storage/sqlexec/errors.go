package sqlexec

import (
	"context"
	"errors"
	"fmt"

	"vitess.io/vitess/go/mysql/sqlerror"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// MySQL error numbers the SQL layer itself returns (protocols holds the ones the
// replication models return). Each is the number MySQL uses for the same condition, so a
// client's error handling behaves as against a real server.
const (
	erSyntax             = 1064 // ER_PARSE_ERROR
	erNotSupported       = 1235 // ER_NOT_SUPPORTED_YET
	erNoSuchTable        = 1146 // ER_NO_SUCH_TABLE
	erBadTable           = 1051 // ER_BAD_TABLE_ERROR (DROP TABLE of a missing table)
	erTableExists        = 1050 // ER_TABLE_EXISTS_ERROR
	erBadField           = 1054 // ER_BAD_FIELD_ERROR
	erNoDB               = 1046 // ER_NO_DB_ERROR
	erBadDB              = 1049 // ER_BAD_DB_ERROR
	erDBCreateExists     = 1007 // ER_DB_CREATE_EXISTS
	erDBDropExists       = 1008 // ER_DB_DROP_EXISTS
	erUnknownSystemVar   = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
	erWrongValueForVar   = 1231 // ER_WRONG_VALUE_FOR_VAR
	erVarReadOnly        = 1238 // ER_INCORRECT_GLOBAL_LOCAL_VAR
	erWrongValueCount    = 1136 // ER_WRONG_VALUE_COUNT_ON_ROW
	erBadNull            = 1048 // ER_BAD_NULL_ERROR
	erNoDefault          = 1364 // ER_NO_DEFAULT_FOR_FIELD
	erDupFieldName       = 1060 // ER_DUP_FIELDNAME
	erDupKeyName         = 1061 // ER_DUP_KEYNAME
	erKeyColumnMissing   = 1072 // ER_KEY_COLUMN_DOES_NOT_EXITS
	erWrongAutoKey       = 1075 // ER_WRONG_AUTO_KEY
	erMultiplePK         = 1068 // ER_MULTIPLE_PRI_KEY
	erNoSuchFunction     = 1305 // ER_SP_DOES_NOT_EXIST
	erWrongArgs          = 1582 // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
	erTruncatedWrong     = 1292 // ER_TRUNCATED_WRONG_VALUE
	erWrongColumnName    = 1166 // ER_WRONG_COLUMN_NAME
	erUnknown            = 1105 // ER_UNKNOWN_ERROR
	erWrongArguments     = 1210 // ER_WRONG_ARGUMENTS (prepared statement parameter count)
	erPacketTooLarge     = 1153 // ER_NET_PACKET_TOO_LARGE
	erCantDoThisDuringTx = 1179 // ER_CANT_DO_THIS_DURING_AN_TRANSACTION
	erDivisionByZero     = 1365 // ER_DIVISION_BY_ZERO
	erNonUniq            = 1052 // ER_NON_UNIQ_ERROR
	erBadFieldSpec       = 1063 // ER_WRONG_FIELD_SPEC
)

func sqlErr(code int, state, format string, args ...any) *sqlerror.SQLError {
	return sqlerror.NewSQLError(sqlerror.ErrorCode(code), state, fmt.Sprintf(format, args...))
}

// notSupported is MySQL's 1235 naming the construct the emulated server does not run.
func notSupported(what string) *sqlerror.SQLError {
	return sqlErr(erNotSupported, "42000", "This version of replbench doesn't yet support '%s'", what)
}

func noSuchTable(db, table string) *sqlerror.SQLError {
	return sqlErr(erNoSuchTable, "42S02", "Table '%s.%s' doesn't exist", db, table)
}

func badField(col, where string) *sqlerror.SQLError {
	return sqlErr(erBadField, "42S22", "Unknown column '%s' in '%s'", col, where)
}

// ToSQLError converts any error of a statement into the MySQL error a client sees: the
// models' *protocols.Error keep their number and SQLSTATE, a cancelled statement is 1317,
// anything unexpected is 1105 with its text (always worth reading: it is a bug or a
// limitation the message names).
func ToSQLError(err error) *sqlerror.SQLError {
	if err == nil {
		return nil
	}
	var se *sqlerror.SQLError
	if errors.As(err, &se) {
		return se
	}
	var pe *protocols.Error
	if errors.As(err, &pe) {
		return sqlerror.NewSQLError(sqlerror.ErrorCode(pe.Code), pe.SQLState, pe.Msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sqlerror.NewSQLError(sqlerror.ErrorCode(protocols.ErQueryInterrupted), "70100", "Query execution was interrupted")
	}
	if errors.Is(err, storage.ErrClosed) {
		return sqlErr(1053, "08S01", "Server shutdown in progress")
	}
	return sqlErr(erUnknown, "HY000", "%s", err.Error())
}

// abortsTransaction reports whether err ends the whole transaction in MySQL (a deadlock or
// certification failure rolls the transaction back; most other errors only the statement).
func abortsTransaction(err error) bool {
	var pe *protocols.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case protocols.ErLockDeadlock, protocols.ErTransactionRollbackDuringCmt:
			return true
		}
	}
	return errors.Is(err, storage.ErrTxnDone) || errors.Is(err, storage.ErrClosed)
}
