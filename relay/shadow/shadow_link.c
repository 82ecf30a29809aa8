/*
 * shadow_link.c - the hand-off between the loop and the NATS worker
 * (shadow_int.h): jobs go to the worker under the link's mutex and wake it
 * by its condition; events come back in a list, and the first of a batch
 * writes one octet to the wake pipe the loop watches.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "shadow_int.h"

void shadow_link_post(struct shadow_link *l, const struct shadow_ev *ev)
{
    struct shadow_ev *e = malloc(sizeof(*e));

    if (e == NULL)
        abort();
    *e = *ev;
    e->next = NULL;
    pthread_mutex_lock(&l->mu);
    bool was_empty = l->evs == NULL;
    if (l->evs_tail)
        l->evs_tail->next = e;
    else
        l->evs = e;
    l->evs_tail = e;
    pthread_mutex_unlock(&l->mu);
    if (was_empty) {
        char b = 1;
        while (write(l->wake[1], &b, 1) < 0 && errno == EINTR)
            ;
    }
}

bool shadow_link_stopping(struct shadow_link *l)
{
    pthread_mutex_lock(&l->mu);
    bool stop = l->stop;
    pthread_mutex_unlock(&l->mu);
    return stop;
}

void shadow_link_push(struct shadow_link *l, struct shadow_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (j->kind == SHADOW_JOB_FORGET && l->nforget >= SHADOW_FORGET_MAX) {
        pthread_mutex_unlock(&l->mu);
        shadow_job_free(j);
        return;
    }
    if (j->kind == SHADOW_JOB_FORGET)
        l->nforget++;
    if (l->jobs_tail)
        l->jobs_tail->next = j;
    else
        l->jobs = j;
    l->jobs_tail = j;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void shadow_link_drop_publishes(struct shadow_link *l)
{
    struct shadow_job **pp, *drop = NULL;

    pthread_mutex_lock(&l->mu);
    l->jobs_tail = NULL;
    for (pp = &l->jobs; *pp;) {
        struct shadow_job *j = *pp;
        if (j->kind == SHADOW_JOB_PUBLISH) {
            *pp = j->next;
            j->next = drop;
            drop = j;
        } else {
            l->jobs_tail = j;
            pp = &j->next;
        }
    }
    pthread_mutex_unlock(&l->mu);
    while (drop) {
        struct shadow_job *n = drop->next;
        shadow_job_free(drop);
        drop = n;
    }
}

void shadow_ev_free(struct shadow_ev *e)
{
    if (e) {
        free(e->env);
        free(e->data);
        free(e->ledger);
        free(e->delivered);
        free(e);
    }
}

void shadow_job_free(struct shadow_job *j)
{
    if (j) {
        free(j->env);
        free(j->data);
        free(j);
    }
}
