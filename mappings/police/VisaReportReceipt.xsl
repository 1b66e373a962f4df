<?xml version="1.0" encoding="UTF-8"?>
<!-- The gateway's receipt (urn:rabt:gateway:receipt) → the police's visa:VisaReportReceipt. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:r="urn:rabt:gateway:receipt" xmlns:visa="urn:om:rop:visa:2021"
    exclude-result-prefixes="r">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/r:Receipt">
    <visa:VisaReportReceipt>
      <visa:MsgId><xsl:value-of select="r:SourceMessageId"/></visa:MsgId>
      <!-- the first message's id when this is a repeat: the receipt says which -->
      <visa:HubMessageId><xsl:value-of select="r:HubMessageId"/></visa:HubMessageId>
      <visa:ReceivedAt><xsl:value-of select="r:ReceivedAt"/></visa:ReceivedAt>
      <visa:Duplicate><xsl:value-of select="r:Duplicate"/></visa:Duplicate>
    </visa:VisaReportReceipt>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a gateway receipt, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
