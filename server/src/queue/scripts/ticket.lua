-- One ticket, read in one step. ARGV: [1] prefix, [2] ticket id. Replies {ticket} or {}.
local ticket = ticket_reply(ARGV[2])
if ticket then
  return {ticket}
end
return {}
