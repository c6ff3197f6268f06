# bash completion of runner: the commands and each command's options are
# read from the program's own --help, so they are never out of date.
_runner() {
	local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} words
	if [ "$COMP_CWORD" -eq 1 ]; then
		words=$("$prog" --help 2>/dev/null |
		    sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
		COMPREPLY=($(compgen -W "$words --help --version" -- "$cur"))
		return
	fi
	case $cur in
	-*)
		words=$("$prog" "${COMP_WORDS[1]}" --help 2>/dev/null |
		    grep -o -- '--[a-z][a-z-]*' | sort -u)
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		;;
	*)
		case ${COMP_WORDS[COMP_CWORD-1]} in
		--home|--extract|--log-file) COMPREPLY=($(compgen -d -- "$cur")) ;;
		*) COMPREPLY=($(compgen -f -- "$cur")) ;;
		esac
		;;
	esac
}
complete -F _runner runner
