// Package rbac decides whether a user may read or write a key or a key range, from users,
// roles and key-range permissions as etcd defines them. It is pure decision logic: no I/O,
// no clock, no locks, nothing persisted.
//
// # Who calls it
//
// auth keeps the replicated users and roles and compiles them into a Policy whenever they
// change; the node asks that Policy about every key of every request, once at its client
// service and again when the request is applied. rbac imports nothing of ours.
//
// # Model (etcd's)
//
// A Permission grants Read, Write or ReadWrite on keys, named the way etcd names ranges:
//
//	RangeEnd empty       the single key Key
//	RangeEnd "\x00"      every key >= Key (from-key; with Key "\x00": every non-empty key)
//	otherwise            the half-open range [Key, RangeEnd); a prefix P is [P, PrefixEnd(P))
//
// A range whose RangeEnd is not above its Key grants nothing. A Role is a named set of
// permissions, a User a name with the names of its roles; a role name that no Role
// defines grants nothing. A user holding the role named "root" may do everything, whether
// or not a Role of that name exists. A user the policy does not know may do nothing.
//
// Queries name keys the same way: Allowed(user, want, key, rangeEnd) with rangeEnd empty
// asks about one key, with "\x00" about every key >= key, otherwise about [key, rangeEnd).
// A range is allowed only when the union of the user's permitted keys covers all of it,
// even if it is granted piecewise by several permissions or several roles. A query range
// that is empty (rangeEnd not above key, and not "\x00") touches no key; it is decided as
// the single key it names, so that it is never more permissive than a point query.
// ReadWrite asks for both: the range must be covered by the read grants and, separately,
// by the write grants.
//
// # Algorithm
//
// Compile turns, per user and per direction (read, write), every permitted range into a
// half-open interval of byte strings ([Key, Key+"\x00") for a single key, since no byte
// string lies strictly between k and k+"\x00"; an unbounded interval for "\x00"), sorts them
// by start and merges every pair that overlaps or touches (next.start <= cur.end), so that
// each direction is a sorted list of disjoint, non-adjacent intervals of which only the
// last may be unbounded. Merging makes coverage a local question: because two merged
// intervals always leave at least one key between them (the end of the first is in
// neither), a range is covered by the union iff one single merged interval contains it.
// So Allowed finds, by binary search on the starts, the last interval starting at or
// before the query's key and compares the query's end with that interval's end.
//
// Costs, for n permissions reaching a user: Compile is O(n log n) (a sort and a merge per
// direction for each role, and again for each distinct set of two or more roles that some
// user holds; users with the same roles share one compiled form); Allowed is one map
// lookup and O(log n) byte-string comparisons, with no allocation. A Policy holds its own
// copies of every key, so the caller may reuse the slices it compiled from.
//
// # Concurrency
//
// A Policy is immutable once Compile returns: any number of goroutines may query it. A nil
// *Policy allows nothing.
//
// # Errors
//
// None: a query is answered true or false. Validating grants (etcd refuses an empty Key or
// an inverted range) is auth's business; rbac gives every input a defined meaning.
package rbac
