#compdef kvctl
###-begin-kvctl-completions-###
#
# yargs command completion script
#
# Installation: kvctl completion >> ~/.zshrc
#    or kvctl completion >> ~/.zprofile on OSX.
#
_kvctl_yargs_completions()
{
  local reply
  local si=$IFS
  IFS=$'
' reply=($(COMP_CWORD="$((CURRENT-1))" COMP_LINE="$BUFFER" COMP_POINT="$CURSOR" kvctl --get-yargs-completions "${words[@]}"))
  IFS=$si
  if [[ ${#reply} -gt 0 ]]; then
    _describe 'values' reply
  else
    _default
  fi
}
if [[ "${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  _kvctl_yargs_completions "$@"
else
  compdef _kvctl_yargs_completions kvctl
fi
###-end-kvctl-completions-###
