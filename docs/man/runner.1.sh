#!/bin/sh
# runner(1), made from the program's own --help (every command's), so
# that the page says what the program does:
#   runner.1.sh PATH/runner VERSION > runner.1
set -eu
runner=$1
version=$2

# text as roff: backslashes shown, no line read as a request
esc() {
	sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'
}

help=$("$runner" --help)
printf '.TH RUNNER 1 "" "runner %s" "runner manual"\n' "$version"
cat <<'ROFF'
.SH NAME
runner \- a git-hook-driven CI/CD runner
.SH SYNOPSIS
.B runner
.I COMMAND
.RI [ OPTIONS "] [" ARGS ]
.br
.B runner \-\-version
.SH DESCRIPTION
ROFF
# the paragraph between the usage line and "Commands:"
printf '%s\n' "$help" | sed -n '3,/^Commands:/p' | sed '/^Commands:/d;/^$/d' | esc
printf '.PP\nEvery command takes \\fB\\-\\-home\\fR \\fIDIR\\fR (default \\fB$RUNNER_HOME\\fR, else \\fB~/.runner\\fR) and \\fB\\-\\-help\\fR.\n'
printf '.SH COMMANDS\n'
printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' | sed '1d;/^$/d' |
while read -r cmd summary; do
	printf '.SS "runner %s"\n' "$cmd"
	printf '%s\n' "$summary" | esc
	printf '.PP\n.nf\n'
	"$runner" "$cmd" --help | esc
	printf '.fi\n'
done
cat <<'ROFF'
.SH PUSH OPTIONS
\fBrunner install\-hook\fR sets \fBreceive.advertisePushOptions\fR in the
repository, so that a push may carry options for the runner with
\fBgit push \-o\fR \fIOPTION\fR:
.TP
.B ci.skip
no job for this push.
.TP
.B ci.wait
the push waits for its jobs, showing each stage and the result, for at
most runner.yml's \fBwait_timeout\fR; a job that did not succeed ends
with the last 20 lines of its failing stage's log and a line that stands
out. Interrupting the push stops the waiting, never a job. The hook of
another user than the runner's (ssh, smart HTTP, gitolite3) asks the
daemon over \fIHOME\fB/ask.sock\fR; with the daemon down, the push
succeeds and says it cannot be followed.
.TP
.BI ci.variable= NAME = VALUE
a variable for the stages of the builds the push queues, if runner.yml's
\fBvariables\fR of the repository name it; one that is not allowed is
refused with a warning saying why.
.PP
Any other \fBci.*\fR option is ignored with a warning; options without
\fBci.\fR are left to other tools.
.SH GIT NOTES
Every ended build and deployment of a commit is recorded in the bare
repository as the commit's note under \fBrefs/notes/runner\fR (runner.yml
\fBrepos: \- notes: false\fR turns it off for a repository). A clone
reads them with
.PP
.nf
git fetch origin refs/notes/runner:refs/notes/runner
git log \-\-notes=runner
.fi
.PP
They are written by whoever may write the repository: a root daemon has
each written as the repository's owner when the job ends; a daemon that
may not write the repository (its own user, the git server's
repositories) leaves them in
.IB HOME /notes/
for the repository's hook, which writes them at the next push.
\fBrunner doctor\fR says who writes them, and why they cannot be written.
Only the runner writes \fBrefs/notes/runner\fR: a push that updates or
deletes it is refused by the pre-receive hook, and undone by the
post-receive hook where there is none.
.SH ENVIRONMENT
.TP
.B RUNNER_HOME
the home, when \fB\-\-home\fR is not given.
.SH FILES
.TP
.IB HOME /runner.yml
the daemon's configuration, see
.BR runner.yml (5).
.TP
.IB HOME /runner.yml.last\-good
a copy of the runner.yml the daemon last loaded: while runner.yml has a
mistake, the workers, the web page and every command go on with it, and
\fBrunner status\fR and \fBrunner doctor\fR show the mistake as a
warning.
.TP
.IB HOME /runner.db
the store (SQLite): jobs, stages, deployments, notifications.
.TP
.IB HOME /runner.sock ", " HOME /ask.sock
the daemon's sockets, which the home's group may use: a wake-up
datagram; the hooks' questions (the jobs a spooled push queued,
\fBci.wait\fR, release tags judged at pre-receive).
.TP
.IB HOME /provenance.key ", " HOME /provenance.pub
the ed25519 key that signs each artifact's provenance (the runner's
user's alone) and its public half to publish; \fBrunner verify\fR
checks a provenance.
.TP
.IB HOME /logs/ ", " HOME /artifacts/ ", " HOME /releases/ ", " HOME /state/ ", " HOME /backups/
logs, artifacts, releases, the environments' own folders and backups;
\fBrunner gc\fR keeps them within runner.yml's \fBretention\fR.
.TP
.B .runner.yml
a repository's pipeline, see
.BR runner-pipeline (5).
.SH EXIT STATUS
.TP
.B 0
success
.TP
.B 1
failure; the message says what and where
.TP
.B 2
usage error: an unknown command or option, a missing argument
.SH SEE ALSO
.BR runner.yml (5),
.BR runner-pipeline (5),
.BR git (1),
.BR bwrap (1)
.PP
The documentation under share/doc/runner: README.md, operations.md,
configuration.md, pipeline.md, notify.md, architecture.md, provenance.md.
ROFF
