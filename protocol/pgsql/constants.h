// Wire constants of the PostgreSQL frontend/backend protocol 3.0: message type bytes,
// startup request codes, authentication request codes and the SQLSTATEs sluice sends.
//
// Sources: PostgreSQL docs, chapter "Frontend/Backend Protocol", section "Message Formats";
// src/include/libpq/protocol.h (PqMsg_*, AUTH_REQ_*), src/include/libpq/pqcomm.h
// (PG_PROTOCOL, NEGOTIATE_*_CODE, CANCEL_REQUEST_CODE, MAX_STARTUP_PACKET_LENGTH),
// src/include/postgres_ext.h (PG_DIAG_*) and src/backend/utils/errcodes.txt (SQLSTATEs).
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::pgsql {

// Messages a client sends (protocol.h, PqMsg_* of frontend messages).
namespace frontend {
inline constexpr char kBind = 'B';
inline constexpr char kClose = 'C';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kFunctionCall = 'F';  // framed only
inline constexpr char kFlush = 'H';
inline constexpr char kParse = 'P';
inline constexpr char kQuery = 'Q';
inline constexpr char kSync = 'S';
inline constexpr char kTerminate = 'X';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
// 'p' is shared by PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse:
// which one it is follows from the authentication request the server sent last.
inline constexpr char kPasswordMessage = 'p';
inline constexpr char kSaslInitialResponse = 'p';
inline constexpr char kSaslResponse = 'p';
inline constexpr char kGssResponse = 'p';  // framed only
}  // namespace frontend

// Messages a server sends (protocol.h, PqMsg_* of backend messages).
namespace backend {
inline constexpr char kParseComplete = '1';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kDataRow = 'D';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kAuthenticationRequest = 'R';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kRowDescription = 'T';
inline constexpr char kFunctionCallResponse = 'V';  // framed only
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kNoData = 'n';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kParameterDescription = 't';  // framed only
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
}  // namespace backend

// Startup packet codes (pqcomm.h). The first message of a connection has no type byte.
inline constexpr int32_t kProtocolVersion3 = 196608;     // PG_PROTOCOL(3, 0)
inline constexpr int32_t kCancelRequestCode = 80877102;  // PG_PROTOCOL(1234, 5678)
inline constexpr int32_t kSslRequestCode = 80877103;     // PG_PROTOCOL(1234, 5679)
inline constexpr int32_t kGssEncRequestCode = 80877104;  // PG_PROTOCOL(1234, 5680)
// Largest startup packet body PostgreSQL accepts (pqcomm.h MAX_STARTUP_PACKET_LENGTH);
// the server compares it with the length word minus its own 4 bytes.
inline constexpr uint32_t kMaxStartupPacketLength = 10000;
// The newest minor version of protocol 3 this codec speaks.
inline constexpr uint16_t kNewestMinorVersion = 0;

// Authentication request codes carried by 'R' messages (protocol.h AUTH_REQ_*).
inline constexpr int32_t kAuthOk = 0;
inline constexpr int32_t kAuthKerberosV5 = 2;
inline constexpr int32_t kAuthCleartextPassword = 3;
inline constexpr int32_t kAuthMd5Password = 5;
inline constexpr int32_t kAuthGss = 7;
inline constexpr int32_t kAuthGssContinue = 8;
inline constexpr int32_t kAuthSspi = 9;
inline constexpr int32_t kAuthSasl = 10;
inline constexpr int32_t kAuthSaslContinue = 11;
inline constexpr int32_t kAuthSaslFinal = 12;

// ReadyForQuery transaction status ("Message Formats", ReadyForQuery).
inline constexpr char kTxIdle = 'I';
inline constexpr char kTxInBlock = 'T';
inline constexpr char kTxFailed = 'E';

// Describe/Close targets.
inline constexpr char kTargetStatement = 'S';
inline constexpr char kTargetPortal = 'P';

// ErrorResponse/NoticeResponse field codes (postgres_ext.h PG_DIAG_*; docs "Error and
// Notice Message Fields").
namespace field {
inline constexpr char kSeverity = 'S';
inline constexpr char kSeverityNonLocalized = 'V';
inline constexpr char kSqlState = 'C';
inline constexpr char kMessage = 'M';
inline constexpr char kDetail = 'D';
inline constexpr char kHint = 'H';
inline constexpr char kPosition = 'P';
inline constexpr char kInternalPosition = 'p';
inline constexpr char kInternalQuery = 'q';
inline constexpr char kWhere = 'W';
inline constexpr char kSchema = 's';
inline constexpr char kTable = 't';
inline constexpr char kColumn = 'c';
inline constexpr char kDataType = 'd';
inline constexpr char kConstraint = 'n';
inline constexpr char kFile = 'F';
inline constexpr char kLine = 'L';
inline constexpr char kRoutine = 'R';
}  // namespace field

// SQLSTATEs sluice puts in the errors it makes itself (errcodes.txt).
namespace sqlstate {
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kInvalidPassword = "28P01";
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidCatalogName = "3D000";
inline constexpr std::string_view kReadOnlySqlTransaction = "25006";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kIdleInTransactionTimeout = "25P03";
inline constexpr std::string_view kSyntaxError = "42601";
}  // namespace sqlstate

}  // namespace sluice::pgsql
