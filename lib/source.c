/* source.c: which member of a group the others share their data from;
 * bedup-clone picks it, bedup-hash reads through it beforehand. */
#include "bedup.h"

int
bd_source_better(const struct bd_source *a, const struct bd_source *b)
{
	if (a->inl != b->inl)
		return a->inl < b->inl;
	if (a->ro != b->ro)
		return a->ro > b->ro;
	return a->shared > b->shared;
}
