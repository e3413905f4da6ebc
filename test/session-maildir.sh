#!/bin/bash
# The session transcripts of test/session.sh replayed with a Maildir INBOX.
SESSION_KINDS=maildir
. "$(dirname "$0")/session.sh"
