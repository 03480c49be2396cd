package storage

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkPages verifies the page structure of a bbolt file with plain reads and bounds
// checks, before bbolt is allowed to walk it. bbolt trusts its pages: a corrupt page id,
// count or offset makes it read out of bounds, and some of its walks run on goroutines of
// its own where a panic cannot be recovered. So an image from elsewhere (a snapshot from
// the leader, a backup) is walked here first: both meta pages, then every page reachable
// from the root bucket, checking that each lies below the high-water mark, is referenced
// once, has a sane type, and that every element, key and value lies inside its page.
//
// The layout is bbolt v1.5's, in the byte order of the machine that wrote it
// (little-endian on every platform etcq builds for):
//
//	page header  id u64 | flags u16 | count u16 | overflow u32        (16 bytes)
//	meta         magic u32 | version u32 | page size u32 | flags u32 | root bucket
//	             (root u64 | sequence u64) | freelist u64 | high water u64 | txid u64 |
//	             checksum u64 (FNV-64a of the fields before it)
//	branch elem  pos u32 | key size u32 | child page u64              (16 bytes)
//	leaf elem    flags u32 | pos u32 | key size u32 | value size u32  (16 bytes)
//	bucket value root u64 | sequence u64, then an inline page if root is 0
func checkPages(f *os.File, fileSize int64) error {
	le := binary.LittleEndian
	var m0 [pageHeaderLen + metaLen]byte
	if _, err := f.ReadAt(m0[:], 0); err != nil {
		return fmt.Errorf("%w: image too short for a meta page: %w", ErrCorrupt, err)
	}
	pageSize := int64(le.Uint32(m0[pageHeaderLen+8:]))
	if pageSize < 512 || pageSize > 1<<16 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrCorrupt, pageSize)
	}
	var best *bboltMeta
	for i := int64(0); i < 2; i++ {
		var buf [pageHeaderLen + metaLen]byte
		if _, err := f.ReadAt(buf[:], i*pageSize); err != nil {
			continue
		}
		if mt, ok := parseMeta(buf[:]); ok && (best == nil || mt.txid > best.txid) {
			best = &mt
		}
	}
	if best == nil {
		return fmt.Errorf("%w: no valid meta page", ErrCorrupt)
	}
	if best.pageSize != pageSize {
		return fmt.Errorf("%w: meta pages disagree on the page size", ErrCorrupt)
	}
	if best.highWater < 3 || best.highWater > uint64(fileSize/pageSize) {
		return fmt.Errorf("%w: image claims %d pages of %d bytes but holds %d bytes", ErrCorrupt, best.highWater, pageSize, fileSize)
	}
	if best.freelist != noFreelist && (best.freelist < 2 || best.freelist >= best.highWater) {
		return fmt.Errorf("%w: freelist page %d out of range", ErrCorrupt, best.freelist)
	}
	w := &pageWalker{f: f, pageSize: pageSize, highWater: best.highWater, seen: make(map[uint64]bool)}
	return w.bucket(best.root, nil, 0)
}

const (
	pageHeaderLen = 16
	metaLen       = 64
	elemLen       = 16
	noFreelist    = ^uint64(0)
	maxDepth      = 64
	boltMagic     = 0xED0CDAED
)

type bboltMeta struct {
	pageSize                        int64
	root, freelist, highWater, txid uint64
}

func parseMeta(page []byte) (bboltMeta, bool) {
	le := binary.LittleEndian
	if le.Uint16(page[8:])&0x04 == 0 { // meta page flag
		return bboltMeta{}, false
	}
	m := page[pageHeaderLen:]
	h := fnv.New64a()
	h.Write(m[:56])
	if le.Uint32(m) != boltMagic || h.Sum64() != le.Uint64(m[56:]) {
		return bboltMeta{}, false
	}
	return bboltMeta{
		pageSize:  int64(le.Uint32(m[8:])),
		root:      le.Uint64(m[16:]),
		freelist:  le.Uint64(m[32:]),
		highWater: le.Uint64(m[40:]),
		txid:      le.Uint64(m[48:]),
	}, true
}

type pageWalker struct {
	f         io.ReaderAt
	pageSize  int64
	highWater uint64
	seen      map[uint64]bool
}

// bucket checks a bucket: the page tree at root, or the inline page when root is 0.
func (w *pageWalker) bucket(root uint64, inline []byte, depth int) error {
	if root == 0 {
		return w.nodes(inline, 0, depth)
	}
	return w.page(root, depth)
}

// page reads page id (with its overflow pages) and checks it and its subtree.
func (w *pageWalker) page(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: page tree deeper than %d", ErrCorrupt, maxDepth)
	}
	if id < 2 || id >= w.highWater {
		return fmt.Errorf("%w: page %d out of range [2, %d)", ErrCorrupt, id, w.highWater)
	}
	var hdr [pageHeaderLen]byte
	if _, err := w.f.ReadAt(hdr[:], int64(id)*w.pageSize); err != nil {
		return fmt.Errorf("%w: page %d: %w", ErrCorrupt, id, err)
	}
	le := binary.LittleEndian
	overflow := uint64(le.Uint32(hdr[12:]))
	if le.Uint64(hdr[:]) != id || id+overflow >= w.highWater {
		return fmt.Errorf("%w: page %d header names page %d with %d overflow pages", ErrCorrupt, id, le.Uint64(hdr[:]), overflow)
	}
	for p := id; p <= id+overflow; p++ {
		if w.seen[p] {
			return fmt.Errorf("%w: page %d is referenced twice", ErrCorrupt, p)
		}
		w.seen[p] = true
	}
	buf := make([]byte, int64(overflow+1)*w.pageSize)
	if _, err := w.f.ReadAt(buf, int64(id)*w.pageSize); err != nil {
		return fmt.Errorf("%w: page %d: %w", ErrCorrupt, id, err)
	}
	return w.nodes(buf, id, depth)
}

// nodes checks the branch or leaf page in buf (a paged page, or an inline one when id is
// 0) and recurses into children and sub-buckets.
func (w *pageWalker) nodes(buf []byte, id uint64, depth int) error {
	le := binary.LittleEndian
	if len(buf) < pageHeaderLen {
		return fmt.Errorf("%w: page %d shorter than its header", ErrCorrupt, id)
	}
	flags, count := le.Uint16(buf[8:]), int(le.Uint16(buf[10:]))
	if pageHeaderLen+count*elemLen > len(buf) {
		return fmt.Errorf("%w: page %d has %d elements, room for %d", ErrCorrupt, id, count, (len(buf)-pageHeaderLen)/elemLen)
	}
	inside := func(elem, pos, size uint64) bool {
		start := elem + pos
		return pos <= uint64(len(buf)) && size <= uint64(len(buf)) && start+size <= uint64(len(buf))
	}
	for i := 0; i < count; i++ {
		off := pageHeaderLen + i*elemLen
		e := buf[off : off+elemLen]
		switch flags {
		case 0x01: // branch
			pos, ksize, child := uint64(le.Uint32(e)), uint64(le.Uint32(e[4:])), le.Uint64(e[8:])
			if !inside(uint64(off), pos, ksize) {
				return fmt.Errorf("%w: page %d element %d key out of bounds", ErrCorrupt, id, i)
			}
			if id == 0 {
				return fmt.Errorf("%w: inline page with a branch", ErrCorrupt)
			}
			if err := w.page(child, depth+1); err != nil {
				return err
			}
		case 0x02: // leaf
			eflags, pos := le.Uint32(e), uint64(le.Uint32(e[4:]))
			ksize, vsize := uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
			if !inside(uint64(off), pos, ksize+vsize) {
				return fmt.Errorf("%w: page %d element %d out of bounds", ErrCorrupt, id, i)
			}
			if eflags&0x01 == 0 {
				continue
			}
			start := uint64(off) + pos + ksize
			val := buf[start : start+vsize]
			if len(val) < 16 {
				return fmt.Errorf("%w: page %d element %d: bucket header of %d bytes", ErrCorrupt, id, i, len(val))
			}
			if err := w.bucket(le.Uint64(val), val[16:], depth+1); err != nil {
				return err
			}
		default:
			if count > 0 || id != 0 {
				return fmt.Errorf("%w: page %d has type %#x", ErrCorrupt, id, flags)
			}
		}
	}
	return nil
}
