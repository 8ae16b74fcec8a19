###-begin-kvctl-completions-###
#
# yargs command completion script
#
# Installation: kvctl completion > ~/.config/fish/completions/kvctl.fish
#
complete -f -c kvctl -a '(kvctl --get-yargs-completions (commandline -o)[2..-1])'
###-end-kvctl-completions-###
