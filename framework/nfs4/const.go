package nfs4

// Protocol numbers from RFC 5531 (ONC RPC) and RFC 8881 (NFSv4.1).

const (
	rpcVersion   = 2
	nfsProgram   = 100003
	nfsVersion   = 4
	procNull     = 0
	procCompound = 1

	msgCall  = 0
	msgReply = 1

	replyAccepted = 0
	replyDenied   = 1

	acceptSuccess      = 0
	acceptProgUnavail  = 1
	acceptProgMismatch = 2
	acceptProcUnavail  = 3
	acceptGarbageArgs  = 4
	acceptSystemErr    = 5

	rejectRPCMismatch = 0
	rejectAuthError   = 1

	authNone = 0
	authSys  = 1

	minorVersion = 1
)

// Operation numbers (nfs_opnum4).
const (
	opAccess          = 3
	opClose           = 4
	opCommit          = 5
	opCreate          = 6
	opDelegReturn     = 8
	opGetattr         = 9
	opGetFH           = 10
	opLink            = 11
	opLock            = 12
	opLockT           = 13
	opLockU           = 14
	opLookup          = 15
	opLookupP         = 16
	opOpen            = 18
	opOpenDowngrade   = 21
	opPutFH           = 22
	opPutRootFH       = 24
	opRead            = 25
	opReadDir         = 26
	opReadLink        = 27
	opRemove          = 28
	opRename          = 29
	opRestoreFH       = 31
	opSaveFH          = 32
	opSetattr         = 34
	opWrite           = 38
	opExchangeID      = 42
	opCreateSession   = 43
	opDestroySession  = 44
	opFreeStateID     = 45
	opSequence        = 53
	opTestStateID     = 55
	opDestroyClientID = 57
	opReclaimComplete = 58
)

var opNames = map[uint32]string{
	opAccess: "ACCESS", opClose: "CLOSE", opCommit: "COMMIT", opCreate: "CREATE",
	opDelegReturn: "DELEGRETURN", opGetattr: "GETATTR", opGetFH: "GETFH", opLink: "LINK",
	opLock: "LOCK", opLockT: "LOCKT", opLockU: "LOCKU", opLookup: "LOOKUP", opLookupP: "LOOKUPP",
	opOpen: "OPEN", opOpenDowngrade: "OPEN_DOWNGRADE", opPutFH: "PUTFH", opPutRootFH: "PUTROOTFH",
	opRead: "READ", opReadDir: "READDIR", opReadLink: "READLINK", opRemove: "REMOVE",
	opRename: "RENAME", opRestoreFH: "RESTOREFH", opSaveFH: "SAVEFH", opSetattr: "SETATTR",
	opWrite: "WRITE", opExchangeID: "EXCHANGE_ID", opCreateSession: "CREATE_SESSION",
	opDestroySession: "DESTROY_SESSION", opFreeStateID: "FREE_STATEID", opSequence: "SEQUENCE",
	opTestStateID: "TEST_STATEID", opDestroyClientID: "DESTROY_CLIENTID",
	opReclaimComplete: "RECLAIM_COMPLETE",
}

// Status is an NFSv4 status code (nfsstat4).
type Status uint32

// The status codes this client acts on or maps to an errno.
const (
	StatusOK                Status = 0
	StatusPerm              Status = 1
	StatusNoEnt             Status = 2
	StatusIO                Status = 5
	StatusNXIO              Status = 6
	StatusAccess            Status = 13
	StatusExist             Status = 17
	StatusXDev              Status = 18
	StatusNotDir            Status = 20
	StatusIsDir             Status = 21
	StatusInval             Status = 22
	StatusFBig              Status = 27
	StatusNoSpc             Status = 28
	StatusROFS              Status = 30
	StatusMLink             Status = 31
	StatusNameTooLong       Status = 63
	StatusNotEmpty          Status = 66
	StatusDQuot             Status = 69
	StatusStale             Status = 70
	StatusBadHandle         Status = 10001
	StatusBadCookie         Status = 10003
	StatusNotSupp           Status = 10004
	StatusTooSmall          Status = 10005
	StatusServerFault       Status = 10006
	StatusBadType           Status = 10007
	StatusDelay             Status = 10008
	StatusSame              Status = 10009
	StatusDenied            Status = 10010
	StatusExpired           Status = 10011
	StatusLocked            Status = 10012
	StatusGrace             Status = 10013
	StatusFHExpired         Status = 10014
	StatusShareDenied       Status = 10015
	StatusWrongSec          Status = 10016
	StatusClidInUse         Status = 10017
	StatusResource          Status = 10018
	StatusMoved             Status = 10019
	StatusNoFileHandle      Status = 10020
	StatusMinorVersMismatch Status = 10021
	StatusStaleClientID     Status = 10022
	StatusStaleStateID      Status = 10023
	StatusOldStateID        Status = 10024
	StatusBadStateID        Status = 10025
	StatusBadSeqID          Status = 10026
	StatusNotSame           Status = 10027
	StatusLockRange         Status = 10028
	StatusSymlink           Status = 10029
	StatusRestoreFH         Status = 10030
	StatusAttrNotSupp       Status = 10032
	StatusNoGrace           Status = 10033
	StatusReclaimBad        Status = 10034
	StatusReclaimConflict   Status = 10035
	StatusBadXDR            Status = 10036
	StatusLocksHeld         Status = 10037
	StatusOpenMode          Status = 10038
	StatusBadOwner          Status = 10039
	StatusBadChar           Status = 10040
	StatusBadName           Status = 10041
	StatusBadRange          Status = 10042
	StatusLockNotSupp       Status = 10043
	StatusOpIllegal         Status = 10044
	StatusDeadlock          Status = 10045
	StatusFileOpen          Status = 10046
	StatusAdminRevoked      Status = 10047
	StatusCBPathDown        Status = 10048
	StatusBadSession        Status = 10052
	StatusBadSlot           Status = 10053
	StatusCompleteAlready   Status = 10054
	StatusConnNotBound      Status = 10055
	StatusSeqMisordered     Status = 10063
	StatusSequencePos       Status = 10064
	StatusReqTooBig         Status = 10065
	StatusRepTooBig         Status = 10066
	StatusRepTooBigToCache  Status = 10067
	StatusRetryUncachedRep  Status = 10068
	StatusTooManyOps        Status = 10070
	StatusOpNotInSession    Status = 10071
	StatusClientIDBusy      Status = 10074
	StatusSeqFalseRetry     Status = 10076
	StatusBadHighSlot       Status = 10077
	StatusDeadSession       Status = 10078
	StatusWrongCred         Status = 10082
	StatusWrongType         Status = 10083
	StatusDelegRevoked      Status = 10087
)

var statusNames = map[Status]string{
	StatusOK: "NFS4_OK", StatusPerm: "NFS4ERR_PERM", StatusNoEnt: "NFS4ERR_NOENT", StatusIO: "NFS4ERR_IO",
	StatusNXIO: "NFS4ERR_NXIO", StatusAccess: "NFS4ERR_ACCESS", StatusExist: "NFS4ERR_EXIST",
	StatusXDev: "NFS4ERR_XDEV", StatusNotDir: "NFS4ERR_NOTDIR", StatusIsDir: "NFS4ERR_ISDIR",
	StatusInval: "NFS4ERR_INVAL", StatusFBig: "NFS4ERR_FBIG", StatusNoSpc: "NFS4ERR_NOSPC",
	StatusROFS: "NFS4ERR_ROFS", StatusMLink: "NFS4ERR_MLINK", StatusNameTooLong: "NFS4ERR_NAMETOOLONG",
	StatusNotEmpty: "NFS4ERR_NOTEMPTY", StatusDQuot: "NFS4ERR_DQUOT", StatusStale: "NFS4ERR_STALE",
	StatusBadHandle: "NFS4ERR_BADHANDLE", StatusBadCookie: "NFS4ERR_BAD_COOKIE",
	StatusNotSupp: "NFS4ERR_NOTSUPP", StatusTooSmall: "NFS4ERR_TOOSMALL",
	StatusServerFault: "NFS4ERR_SERVERFAULT", StatusBadType: "NFS4ERR_BADTYPE",
	StatusDelay: "NFS4ERR_DELAY", StatusSame: "NFS4ERR_SAME", StatusDenied: "NFS4ERR_DENIED",
	StatusExpired: "NFS4ERR_EXPIRED", StatusLocked: "NFS4ERR_LOCKED", StatusGrace: "NFS4ERR_GRACE",
	StatusFHExpired: "NFS4ERR_FHEXPIRED", StatusShareDenied: "NFS4ERR_SHARE_DENIED",
	StatusWrongSec: "NFS4ERR_WRONGSEC", StatusClidInUse: "NFS4ERR_CLID_INUSE",
	StatusResource: "NFS4ERR_RESOURCE", StatusMoved: "NFS4ERR_MOVED",
	StatusNoFileHandle: "NFS4ERR_NOFILEHANDLE", StatusMinorVersMismatch: "NFS4ERR_MINOR_VERS_MISMATCH",
	StatusStaleClientID: "NFS4ERR_STALE_CLIENTID", StatusStaleStateID: "NFS4ERR_STALE_STATEID",
	StatusOldStateID: "NFS4ERR_OLD_STATEID", StatusBadStateID: "NFS4ERR_BAD_STATEID",
	StatusBadSeqID: "NFS4ERR_BAD_SEQID", StatusNotSame: "NFS4ERR_NOT_SAME",
	StatusLockRange: "NFS4ERR_LOCK_RANGE", StatusSymlink: "NFS4ERR_SYMLINK",
	StatusRestoreFH: "NFS4ERR_RESTOREFH", StatusAttrNotSupp: "NFS4ERR_ATTRNOTSUPP",
	StatusNoGrace: "NFS4ERR_NO_GRACE", StatusReclaimBad: "NFS4ERR_RECLAIM_BAD",
	StatusReclaimConflict: "NFS4ERR_RECLAIM_CONFLICT", StatusBadXDR: "NFS4ERR_BADXDR",
	StatusLocksHeld: "NFS4ERR_LOCKS_HELD", StatusOpenMode: "NFS4ERR_OPENMODE",
	StatusBadOwner: "NFS4ERR_BADOWNER", StatusBadChar: "NFS4ERR_BADCHAR",
	StatusBadName: "NFS4ERR_BADNAME", StatusBadRange: "NFS4ERR_BAD_RANGE",
	StatusLockNotSupp: "NFS4ERR_LOCK_NOTSUPP", StatusOpIllegal: "NFS4ERR_OP_ILLEGAL",
	StatusDeadlock: "NFS4ERR_DEADLOCK", StatusFileOpen: "NFS4ERR_FILE_OPEN",
	StatusAdminRevoked: "NFS4ERR_ADMIN_REVOKED", StatusCBPathDown: "NFS4ERR_CB_PATH_DOWN",
	StatusBadSession: "NFS4ERR_BADSESSION", StatusBadSlot: "NFS4ERR_BADSLOT",
	StatusCompleteAlready: "NFS4ERR_COMPLETE_ALREADY", StatusConnNotBound: "NFS4ERR_CONN_NOT_BOUND_TO_SESSION",
	StatusSeqMisordered: "NFS4ERR_SEQ_MISORDERED", StatusSequencePos: "NFS4ERR_SEQUENCE_POS",
	StatusReqTooBig: "NFS4ERR_REQ_TOO_BIG", StatusRepTooBig: "NFS4ERR_REP_TOO_BIG",
	StatusRepTooBigToCache: "NFS4ERR_REP_TOO_BIG_TO_CACHE", StatusRetryUncachedRep: "NFS4ERR_RETRY_UNCACHED_REP",
	StatusTooManyOps: "NFS4ERR_TOO_MANY_OPS", StatusOpNotInSession: "NFS4ERR_OP_NOT_IN_SESSION",
	StatusClientIDBusy: "NFS4ERR_CLIENTID_BUSY", StatusSeqFalseRetry: "NFS4ERR_SEQ_FALSE_RETRY",
	StatusBadHighSlot: "NFS4ERR_BAD_HIGH_SLOT", StatusDeadSession: "NFS4ERR_DEADSESSION",
	StatusWrongCred: "NFS4ERR_WRONG_CRED", StatusWrongType: "NFS4ERR_WRONG_TYPE",
	StatusDelegRevoked: "NFS4ERR_DELEG_REVOKED",
}

// Attribute numbers (RFC 8881 section 5).
const (
	attrSupportedAttrs = 0
	attrType           = 1
	attrChange         = 3
	attrSize           = 4
	attrFsid           = 8
	attrLeaseTime      = 10
	attrFileID         = 20
	attrFilesAvail     = 21
	attrFilesFree      = 22
	attrFilesTotal     = 23
	attrMaxName        = 29
	attrMaxRead        = 30
	attrMaxWrite       = 31
	attrMode           = 33
	attrNumLinks       = 35
	attrOwner          = 36
	attrOwnerGroup     = 37
	attrRawDev         = 41
	attrSpaceAvail     = 42
	attrSpaceFree      = 43
	attrSpaceTotal     = 44
	attrSpaceUsed      = 45
	attrTimeAccess     = 47
	attrTimeAccessSet  = 48
	attrTimeMetadata   = 52
	attrTimeModify     = 53
	attrTimeModifySet  = 54
)

// File types (nfs_ftype4).
const (
	typeReg  = 1
	typeDir  = 2
	typeBlk  = 3
	typeChr  = 4
	typeLnk  = 5
	typeSock = 6
	typeFifo = 7
)

// OPEN arguments and results.
const (
	shareAccessRead        = 1
	shareAccessWrite       = 2
	shareAccessWantNoDeleg = 0x0400
	shareDenyNone          = 0

	openNoCreate = 0
	openCreate   = 1

	createUnchecked  = 0
	createGuarded    = 1
	createExclusive4 = 2
	createExclusive  = 3 // EXCLUSIVE4_1

	claimNull     = 0
	claimPrevious = 1
	claimFH       = 4

	delegNone    = 0
	delegRead    = 1
	delegWrite   = 2
	delegNoneExt = 3

	stableUnstable = 0
	stableDataSync = 1
	stableFileSync = 2

	timeSetServer = 0
	timeSetClient = 1
)

// Lock types (nfs_lock_type4).
const (
	lockRead   = 1
	lockWrite  = 2
	lockReadW  = 3
	lockWriteW = 4
)

// EXCHANGE_ID and CREATE_SESSION flags, SEQUENCE status flags.
const (
	exchgidUseNonPNFS       = 0x00010000
	exchgidConfirmedR       = 0x80000000
	sp4None                 = 0
	seqStatusCBPathDown     = 0x00000001
	seqStatusExpiredAll     = 0x00000004
	seqStatusExpiredSome    = 0x00000008
	seqStatusAdminRevoked   = 0x00000010
	seqStatusRecallRevoked  = 0x00000020
	seqStatusLeaseMoved     = 0x00000040
	seqStatusRestartReclaim = 0x00000100
	seqStatusDevidChanged   = 0x00000800
	seqStatusBackchanFault  = 0x00000400
	seqStatusStateRevoked   = seqStatusExpiredAll | seqStatusExpiredSome | seqStatusAdminRevoked | seqStatusRecallRevoked
)

// Length limits.
const (
	maxFHSize       = 128
	opaqueLimit     = 1024
	sessionIDSize   = 16
	verifierSize    = 8
	stateIDOther    = 12
	maxNameLen      = 255
	allOnes64       = ^uint64(0)
	defaultMaxIO    = 1 << 20
	compoundReserve = 1024 // room for RPC header, SEQUENCE, PUTFH and the rest of a READ/WRITE compound
)
